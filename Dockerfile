# The music container: the companion API and its RQ workers, with ffmpeg, FluidSynth and SuperCollider
# (and, for live sessions, JACK and Janus, which the live worker starts per session: docs/live.md).
# It runs as the unprivileged user "scripthammer" (uid 10001), never as root. SHF regenerate runs a
# bundle's scripts under bubblewrap (docs/shf.md), which needs user namespaces: Docker's default
# seccomp profile refuses them, so regenerate answers sandbox_unavailable in this container unless
# it runs with a profile that allows unshare/clone(CLONE_NEWUSER); nothing else needs that.
FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3 python3-venv python3-dev build-essential ffmpeg sox fluidsynth fluid-soundfont-gm \
      supercollider-server jackd2 janus espeak-ng ca-certificates nodejs npm bubblewrap libseccomp2 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 scripthammer \
    && useradd --system --uid 10001 --gid scripthammer --home-dir /home/scripthammer --create-home \
       --shell /usr/sbin/nologin scripthammer
WORKDIR /app
COPY pyproject.toml README.md ./
COPY companion companion
COPY jobs jobs
# the standalone verifier: algorithm licence packages bundle it (companion/rights/package.py)
COPY verifier verifier
RUN python3 -m venv /app/.venv && /app/.venv/bin/pip install --no-cache-dir .
COPY player player
RUN if [ -f player/package.json ]; then cd player && (npm ci || npm install) && npm run build; fi
# The code stays root's and read-only to the service; only /data (the var dir) is its own.
RUN mkdir -p /data && chown scripthammer:scripthammer /data && chmod 0750 /data
ENV PATH=/app/.venv/bin:$PATH SCRIPTHAMMER_VAR_DIR=/data SCRIPTHAMMER_HOST=0.0.0.0 HOME=/home/scripthammer
VOLUME /data
EXPOSE 8750
USER scripthammer:scripthammer
CMD ["scripthammer", "serve"]
