// Where S3 checkpoints live, as the harness (which writes them) and the master (which streams and deletes them)
// both address them: each file of checkpoint <uuid> is the object `<prefix>/<uuid>/<relpath>`. Dependency-free;
// each side builds its own AWS SDK client from `s3ClientOptions`.

export interface S3Location {
  bucket: string;
  prefix?: string;
  endpoint_url?: string;
  region?: string;
}

/** The key prefix holding every file of one checkpoint, ending in '/'. */
export function checkpointKeyPrefix(cfg: { prefix?: string }, uuid: string): string {
  const prefix = (cfg.prefix ?? '').replace(/^\/+|\/+$/g, '');
  return prefix ? `${prefix}/${uuid}/` : `${uuid}/`;
}

/**
 * Options for an S3 client of the configured bucket. `endpoint_url` names an S3-compatible server: path-style
 * addressing (the bucket in the path, since such servers rarely have wildcard DNS), a default region, and checksums
 * only where the API requires them (many such servers do not understand the newer streaming checksum trailers).
 */
export function s3ClientOptions(
  cfg: S3Location,
  env: Record<string, string | undefined>,
): {
  followRegionRedirects: boolean;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  requestChecksumCalculation?: 'WHEN_REQUIRED';
  responseChecksumValidation?: 'WHEN_REQUIRED';
} {
  const region = cfg.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (cfg.endpoint_url ? 'us-east-1' : undefined);
  return {
    followRegionRedirects: true,
    ...(region ? { region } : {}),
    ...(cfg.endpoint_url
      ? { endpoint: cfg.endpoint_url, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const }
      : {}),
  };
}
