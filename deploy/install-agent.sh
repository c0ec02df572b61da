#!/usr/bin/env bash
# Installs the Hone agent as a systemd service on this machine.
#   sudo deploy/install-agent.sh --master https://master:8080 [--token T] [--ca FILE] [--run-as USER]
#                                [--agent-user USER] [--pool NAME] [--id ID] [--slots N]
#
#   --token T          the cluster agent token: the agent joins with it once, then keeps the credential the master
#                      issues it in /var/lib/hone-agent/credential.json (0600) and presents that instead
#   --ca FILE          PEM CA certificate(s) of a private CA that signed the master's certificate (https masters);
#                      copied to /etc/hone/master-ca.pem
#   --run-as USER      the user trial ranks run as (default nobody). The agent runs as root only to start them as
#                      that user; "--run-as root" keeps ranks root (not recommended: user code could then read the
#                      agent's credential and token)
#   --agent-user USER  run the agent itself as USER (systemd User=) instead of root; ranks then run as USER too
#                      (switching users needs root), so trials can read the agent's credential: use it only on
#                      machines where every trial is trusted
#
# HONE_INSTALL_ROOT=DIR writes every file under DIR instead of / and starts nothing (for tests and packaging).
set -euo pipefail
DEST="${HONE_INSTALL_ROOT:-}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MASTER="" TOKEN="" POOL="default" ID="$(hostname)" SLOTS="" CA="" RUN_AS="nobody" AGENT_USER=""
while [ $# -gt 0 ]; do
  case "$1" in
    --master) MASTER="$2"; shift 2 ;;
    --token) TOKEN="$2"; shift 2 ;;
    --pool) POOL="$2"; shift 2 ;;
    --id) ID="$2"; shift 2 ;;
    --slots) SLOTS="$2"; shift 2 ;;
    --ca) CA="$2"; shift 2 ;;
    --run-as) RUN_AS="$2"; shift 2 ;;
    --agent-user) AGENT_USER="$2"; shift 2 ;;
    -h|--help) sed -n 2,19p "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
[ -n "$MASTER" ] || { echo "--master is required" >&2; exit 2; }
command -v node >/dev/null || { echo "Node.js 20.19+ is required" >&2; exit 1; }
[ -n "$DEST" ] || [ "$(id -u)" -eq 0 ] || { echo "run as root (sudo): it writes /etc/hone and a systemd unit" >&2; exit 1; }
id "$RUN_AS" >/dev/null 2>&1 || { echo "--run-as $RUN_AS: no such user" >&2; exit 2; }
if [ -n "$AGENT_USER" ]; then
  id "$AGENT_USER" >/dev/null 2>&1 || { echo "--agent-user $AGENT_USER: no such user" >&2; exit 2; }
  [ "$AGENT_USER" = "$RUN_AS" ] || [ "$RUN_AS" = "nobody" ] || echo "note: --agent-user $AGENT_USER: ranks run as $AGENT_USER (only root can switch users), not $RUN_AS" >&2
  RUN_AS="$AGENT_USER"
  echo "warning: the agent runs as $AGENT_USER and so do its trials: trial code can read the agent's credential" >&2
fi
case "$MASTER" in
  http://127.*|http://localhost*) ;;
  http://*) echo "warning: $MASTER is plain http: the agent token, its credential and task tokens cross the network unencrypted; prefer https://" >&2 ;;
esac
# The rank user must be able to read the checkout (harness, node_modules).
if [ "$RUN_AS" != "root" ] && command -v runuser >/dev/null; then
  runuser -u "$RUN_AS" -- test -r "$ROOT/harness/src/main.ts" -a -r "$ROOT/node_modules/tsx/package.json" \
    || { echo "user $RUN_AS cannot read $ROOT (harness, node_modules): install Hone where it can (e.g. /opt/hone)" >&2; exit 1; }
fi

mkdir -p "$DEST/etc/hone" "$DEST/var/lib/hone-agent" "$DEST/etc/systemd/system"
chmod 0711 "$DEST/var/lib/hone-agent"
[ -z "$AGENT_USER" ] || chown "$AGENT_USER:" "$DEST/var/lib/hone-agent"
CA_LINE=""
if [ -n "$CA" ]; then
  grep -q -- '-----BEGIN CERTIFICATE-----' "$CA" || { echo "--ca $CA: no PEM certificate in it" >&2; exit 2; }
  install -m 0644 "$CA" "$DEST/etc/hone/master-ca.pem"
  CA_LINE="HONE_CA=/etc/hone/master-ca.pem"
fi
umask 077
cat > "$DEST/etc/hone/agent.env" <<ENV
HONE_MASTER=$MASTER
HONE_AGENT_TOKEN=$TOKEN
HONE_AGENT_POOL=$POOL
HONE_AGENT_ID=$ID
HONE_AGENT_WORK_DIR=/var/lib/hone-agent
HONE_AGENT_RUN_AS=$RUN_AS
${SLOTS:+HONE_AGENT_SLOTS=$SLOTS}
$CA_LINE
ENV
chmod 0600 "$DEST/etc/hone/agent.env"
umask 022
sed "s#@ROOT@#$ROOT#g; s#@NODE@#$(command -v node)#g; s#@USER@#${AGENT_USER:-root}#g" "$ROOT/deploy/systemd/hone-agent.service" > "$DEST/etc/systemd/system/hone-agent.service"
if [ -n "$DEST" ]; then
  echo "files written under $DEST; not starting anything"
  exit 0
fi
systemctl daemon-reload
systemctl enable --now hone-agent
echo "hone-agent installed (agent as ${AGENT_USER:-root}, trials as $RUN_AS): systemctl status hone-agent; journalctl -u hone-agent -f"
