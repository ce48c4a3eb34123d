# Sourced by the image scripts: podman as this machine kind runs it (vfs
# storage, runc, cgroupfs, the containers.conf of scripts/podman.sh).
# Elsewhere a plain `podman` or `docker` works with the same images.
export CONTAINERS_CONF="$PWD/.data/podman/containers.conf"
PODMAN=(podman --storage-driver vfs --runtime runc --cgroup-manager cgroupfs)
PODMAN_COMPOSE="$PWD/.data/podman/venv/bin/podman-compose"
