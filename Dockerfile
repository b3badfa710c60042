# Veil's production image: the web server (gunicorn) and Celery workers run from it.
FROM python:3.11-slim
# opencv-python links against libGL and GLib even when no window is opened.
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV VEIL_ENV=production VEIL_DATA_DIR=/data PYTHONUNBUFFERED=1
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "300"]
