# Sourced by test.sh, run.sh and bench.sh: EdgeGuard runs on Node.js 24 LTS (what the image ships). When
# this machine's Node is older (Debian 12 has 18; any Node >= 20 is fine to start from), a Node 24 from
# the npm registry (scripts/node-runtime.sh, cached) goes first on PATH, and the native addon is built
# against its headers. If it cannot be fetched, the machine's Node is used, loudly.
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 24 ]; then
  if _node_dir=$(bash "$(dirname "${BASH_SOURCE[0]}")/node-runtime.sh"); then
    export PATH="$_node_dir/bin:$PATH" npm_config_nodedir="$_node_dir"
    echo "use-node: Node $(node -v) from $_node_dir (this machine's Node is older)" >&2
  else
    echo "use-node: !!! no Node 24 available: running on this machine's Node $(node -v 2>/dev/null)" >&2
  fi
  unset _node_dir
fi
