#!/usr/bin/env node
import { buildProgram } from './program.js';

// The AWS SDK warns on every start under Node 20 that its 2027 releases will need Node 22 (see the
// README). Said once there; here it would bury the one-line reasons and summaries users read.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = typeof warning === 'string' ? rest[0] : warning.name;
  if (name === 'NodeVersionSupportWarning') return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  // Operational failures end with one line naming what broke; no stack trace for users.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`genai-pipeline: ${message.split('\n')[0]}\n`);
  process.exitCode = 1;
}
