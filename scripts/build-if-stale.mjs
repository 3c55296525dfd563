#!/usr/bin/env node
// `npm start` and `npm run demo` run the compiled server from dist/. Compiling takes about 15 s,
// so it happens only when dist/ is missing or older than what it is built from: a source file
// (added, changed or deleted - a deletion changes its folder's time) or a build setting.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// TypeScript writes its incremental build record last, so it dates the last complete build,
// whoever ran it (this script, `npm run build`, the tests' set-up).
const stamp = join(root, 'dist', 'tsconfig.build.tsbuildinfo');
const inputs = ['src', 'migrations', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json'];

function newestChange(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  let newest = stat.mtimeMs;
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path)) {
      newest = Math.max(newest, newestChange(join(path, entry)));
    }
  }
  return newest;
}

function builtAt() {
  try {
    return statSync(stamp).mtimeMs;
  } catch {
    return -1;
  }
}

const sourcesChanged = Math.max(...inputs.map((input) => newestChange(join(root, input))));
if (builtAt() >= sourcesChanged) {
  process.exit(0);
}
process.stderr.write(
  'Compiling TypeScript into dist/ (the sources changed since the last build)...\n',
);
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) {
  process.exit(build.status ?? 1);
}
// A source touched without a change leaves the record as it was: date it now, or every start
// would compile again.
const now = new Date();
utimesSync(stamp, now, now);
