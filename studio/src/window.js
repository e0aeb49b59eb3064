// How many measures the score shows around the current one (shared by the app and its boot script).
export const WINDOW = 8;
