import { ConfigValidationError, parseExperimentConfig, type ExperimentConfig } from '@hone/protocol';
import { HoneError } from '@hone/protocol/errors';

/** Parses an experiment config (YAML text or parsed YAML) read from `configPath`, naming the file in the error. */
export function parseConfigFile(configPath: string, input: unknown): ExperimentConfig {
  try {
    return parseExperimentConfig(input);
  } catch (e) {
    if (e instanceof ConfigValidationError) throw new HoneError('INVALID_CONFIG', `invalid experiment config ${configPath}: ${e.message}`);
    throw e;
  }
}
