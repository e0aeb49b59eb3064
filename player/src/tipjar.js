// The tip jar: preset amounts and a custom one, sent to the site's WooCommerce tip product.
// The form posts to the product URL with WooCommerce's add-to-cart fields; the WordPress plugin
// reads the amount field and sets the cart price. Without a tip product the jar is not shown. The form
// carries the play attribution (sh_play) when the player reports plays.
import { formatMoney, h } from './format.js';

export const DEFAULT_TIP = { presets: [3, 5, 10], currency: 'USD', min: 1, max: 500, field: 'scripthammer_tip_amount' };

export function tipConfigured(tip) {
  return !!(tip && tip.url);
}

export function renderTipJar(panel, tip, { trackId, play = '', onTip } = {}) {
  panel.replaceChildren();
  if (!tipConfigured(tip)) return null;
  const cfg = { ...DEFAULT_TIP, ...tip };
  const uid = Math.random().toString(36).slice(2, 8);
  const amountInput = h('input', {
    type: 'number', id: `shp-tip-amount-${uid}`, name: cfg.field, min: cfg.min, max: cfg.max, step: '0.01',
    inputmode: 'decimal', required: true, value: cfg.presets[1] ?? cfg.presets[0] ?? cfg.min, class: 'shp-tip-amount',
  });
  const presets = h('div', { class: 'shp-tip-presets', role: 'group', 'aria-label': 'Tip amount' },
    cfg.presets.map((amount) => h('button', {
      type: 'button', class: 'shp-tip-preset', 'data-amount': amount,
      'aria-label': `Tip ${formatMoney(amount, cfg.currency)}`,
      onclick: () => {
        amountInput.value = amount;
        for (const b of presets.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.amount === String(amount)));
      },
    }, formatMoney(amount, cfg.currency))));
  const form = h('form', { class: 'shp-tip-form', method: 'post', action: cfg.url, target: cfg.target || '_blank' },
    h('input', { type: 'hidden', name: 'add-to-cart', value: cfg.productId || cfg.product_id || '' }),
    h('input', { type: 'hidden', name: 'quantity', value: '1' }),
    h('input', { type: 'hidden', name: 'scripthammer_track', value: trackId ?? '' }),
    // the play attribution: the plugin keeps it on the order, the companion counts the tip for this play
    play ? h('input', { type: 'hidden', name: 'sh_play', value: play }) : null,
    presets,
    h('label', { for: amountInput.id, class: 'shp-tip-label' }, `Your amount (${cfg.currency})`),
    h('div', { class: 'shp-tip-row' }, amountInput,
      h('button', { type: 'submit', class: 'shp-tip-send' }, cfg.buttonText || 'Send tip')));
  form.addEventListener('submit', (e) => {
    const amount = Number(amountInput.value);
    if (!Number.isFinite(amount) || amount < cfg.min || amount > cfg.max) {
      e.preventDefault();
      amountInput.setCustomValidity(`Choose between ${cfg.min} and ${cfg.max}.`);
      amountInput.reportValidity();
      return;
    }
    amountInput.setCustomValidity('');
    if (onTip) onTip({ amount, currency: cfg.currency });
  });
  amountInput.addEventListener('input', () => amountInput.setCustomValidity(''));
  panel.append(h('h3', { class: 'shp-panel-title' }, cfg.title || 'Tip the band'), form);
  return form;
}
