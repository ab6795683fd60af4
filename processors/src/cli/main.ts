#!/usr/bin/env node
import { buildProgram } from './program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  // Operational failures end with one line naming what broke; no stack trace for users.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`genai-pipeline: ${message.split('\n')[0]}\n`);
  process.exitCode = 1;
}
