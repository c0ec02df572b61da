export const CLI_DIR: string;
export const ROOT: string;
export const DIST: string;
export const MANIFEST: string;
export function freshBuild(manifest?: string, root?: string): string | null;
