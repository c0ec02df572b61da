// The boot script a cloud instance runs (EC2 user data, a GCE startup-script): install Hone when the image lacks
// it, then install and start the agent as a systemd service with deploy/install-agent.sh, joining this pool with the
// cluster agent token under the instance's own agent id.
import type { LaunchRequest } from './provider';

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export function agentUserData(req: LaunchRequest, opts: { installUrl?: string; extra?: string }): string {
  return [
    '#!/bin/bash',
    'set -euo pipefail',
    'HONE_DIR=/opt/hone',
    'if [ ! -x "$HONE_DIR/deploy/install-agent.sh" ]; then',
    ...(opts.installUrl
      ? [
          '  mkdir -p "$HONE_DIR"',
          `  curl -fsSL ${q(opts.installUrl)} | tar -xz -C "$HONE_DIR" --strip-components=1`,
          '  (cd "$HONE_DIR" && npm ci --omit=dev --ignore-scripts)',
        ]
      : ['  echo "hone: $HONE_DIR/deploy/install-agent.sh is missing: bake Hone into the image or set agent_install_url" >&2', '  exit 1']),
    'fi',
    ...(opts.extra ? [opts.extra] : []),
    `"$HONE_DIR/deploy/install-agent.sh" --master ${q(req.masterUrl)}${req.agentToken ? ` --token ${q(req.agentToken)}` : ''} --pool ${q(req.pool)} --id ${q(req.id)} --slots ${req.slots}`,
    '',
  ].join('\n');
}
