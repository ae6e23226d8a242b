import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, headless: never a downloaded browser. The flags keep it
 * from reaching for the network, which is closed here.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
