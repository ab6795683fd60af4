#!/usr/bin/env node
/**
 * Synthesizes the stacks, offline and without credentials.
 *   node dist/bin/app.js [-c key=value ...]       (writes to $CDK_OUTDIR, default ./cdk.out)
 * Under the cdk CLI the context arrives through CDK_CONTEXT_JSON and the CLI picks the outdir.
 */
import { buildApp } from '../src/app.js';

/** `-c key=value` / `--context key=value` pairs from the command line. */
function contextArgs(argv: readonly string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag !== '-c' && flag !== '--context')
      throw new Error(`unknown argument "${flag}" (use -c key=value)`);
    const pair = argv[++i] ?? '';
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`context "${pair}" must be key=value`);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return context;
}

const { app } = buildApp({
  outdir: process.env.CDK_OUTDIR ?? 'cdk.out',
  context: contextArgs(process.argv.slice(2)),
});
const assembly = app.synth();
for (const stack of assembly.stacks) {
  process.stdout.write(`${stack.stackName}: ${stack.templateFullPath}\n`);
}
