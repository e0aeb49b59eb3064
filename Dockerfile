# The music container: the companion API and its RQ workers, with ffmpeg, FluidSynth and SuperCollider.
FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3 python3-venv python3-dev build-essential ffmpeg sox fluidsynth fluid-soundfont-gm \
      supercollider-server espeak-ng ca-certificates nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY companion companion
COPY jobs jobs
RUN python3 -m venv /app/.venv && /app/.venv/bin/pip install --no-cache-dir .
COPY player player
RUN if [ -f player/package.json ]; then cd player && (npm ci || npm install) && npm run build; fi
ENV PATH=/app/.venv/bin:$PATH SCRIPTHAMMER_VAR_DIR=/data SCRIPTHAMMER_HOST=0.0.0.0
VOLUME /data
EXPOSE 8750
CMD ["scripthammer", "serve"]
