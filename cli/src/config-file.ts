// Reading an experiment config file, the same way for every command that takes one (experiment create,
// config validate, searcher simulate): one message for a missing file, one for bad YAML or a bad field.
import fs from 'node:fs';
import type { ExperimentConfig } from '@hone/protocol/config';
import { HoneError } from '@hone/protocol/errors';

/** Reads and parses the experiment config at `configPath`; errors name the file. Loads the YAML parser on first use. */
export async function readConfigFile(configPath: string): Promise<{ text: string; config: ExperimentConfig }> {
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new HoneError('INVALID_ARGUMENT', code === 'ENOENT' ? `config file ${configPath} does not exist` : `cannot read config file ${configPath}: ${(e as Error).message}`);
  }
  const { ConfigValidationError, parseExperimentConfig } = await import('@hone/protocol/config');
  try {
    return { text, config: parseExperimentConfig(text) };
  } catch (e) {
    if (e instanceof ConfigValidationError) throw new HoneError('INVALID_CONFIG', `invalid experiment config ${configPath}: ${e.message}`);
    throw e;
  }
}
