// Adds up the vitest JSON reports of every workspace into the one line CI reads: `N passed, N failed`.
import { existsSync, readFileSync } from 'node:fs';

const root = JSON.parse(readFileSync('package.json', 'utf8'));
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const workspace of root.workspaces) {
  const pkg = JSON.parse(readFileSync(`${workspace}/package.json`, 'utf8'));
  if (!pkg.scripts?.test) continue;
  const report = `${workspace}/test-results.json`;
  if (!existsSync(report)) {
    missing.push(workspace);
    continue;
  }
  const results = JSON.parse(readFileSync(report, 'utf8'));
  passed += results.numPassedTests;
  failed += results.numFailedTests;
  skipped += results.numPendingTests + results.numTodoTests;
  // A suite that failed to load counts as a failure even though it ran no test.
  failed += results.testResults.filter(
    (file) => file.status === 'failed' && file.assertionResults.length === 0,
  ).length;
}
if (missing.length > 0) {
  console.log(`no test report from: ${missing.join(', ')}`);
  failed += missing.length;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
