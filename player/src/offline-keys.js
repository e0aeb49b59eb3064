// Where a listener's offline saves live: one Cache Storage cache per offline key, named by a hash of the
// key (the names are visible to the page's scripts; the key itself, which the URLs carry, is not).
export async function offlineCacheName(key) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`scripthammer-offline:${key}`));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `sh-offline-${hex.slice(0, 32)}`;
}
