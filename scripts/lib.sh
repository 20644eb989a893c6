# Shared by the scripts that set the machine up (sourced, not run).

# as_root runs a command as root: directly when root, else through sudo.
# The calling script's name prefixes the error when neither is possible.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "$(basename "$0" .sh): need root for: $*" >&2
    return 1
  fi
}
