// Keeps package-lock.json complete for `npm ci`. The registry these machines reach serves only the
// Linux x64 builds of packages that ship per-platform binaries (turbo, biome, duckdb, msgpackr-extract):
// `npm install` then leaves the other platforms out of the lock, and `npm ci` refuses a lock that lacks
// any optional dependency. This adds each missing one with its os/cpu, so `npm ci` skips it here and
// still installs it on a platform that has it. Runs as the root `postinstall`; a no-op when complete.
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));

function platformOf(name) {
  const os = /android/.test(name)
    ? 'android'
    : /darwin/.test(name)
      ? 'darwin'
      : /win32|windows/.test(name)
        ? 'win32'
        : 'linux';
  const cpu = /arm64/.test(name) ? 'arm64' : /-arm\b|-arm$/.test(name) ? 'arm' : 'x64';
  return { os: [os], cpu: [cpu], ...(/musl/.test(name) ? { libc: ['musl'] } : {}) };
}

let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [dependency, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const hoisted = `node_modules/${dependency}`;
    if (lock.packages[hoisted] || lock.packages[`${path}/node_modules/${dependency}`]) continue;
    lock.packages[hoisted] = {
      version: range.replace(/^[\^~=]/, ''),
      ...platformOf(dependency),
      ...(entry.license ? { license: entry.license } : {}),
      optional: true,
    };
    added++;
  }
}
if (added > 0) {
  const sorted = Object.entries(lock.packages).sort(([a], [b]) =>
    a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1,
  );
  lock.packages = Object.fromEntries(sorted);
  writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`complete-lockfile: added ${added} other-platform optional packages to package-lock.json`);
}
