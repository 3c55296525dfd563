import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`, done by .ci/run); playwright-core never downloads one. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Screenshots of the browser tests: a CI artifact, ignored by git. */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../artifacts/browser', import.meta.url));

/** True when Chromium is installed; otherwise says why the browser tests are skipped. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) {
    return true;
  }
  process.stdout.write(
    `browser tests skipped: ${CHROMIUM_PATH} is missing (apt-get install -y chromium)\n`,
  );
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

export function screenshotPath(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return join(ARTIFACTS_DIR, `${name}.png`);
}
