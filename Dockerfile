# The platform's own image for docker-compose.yml. It needs a registry that
# serves python:3.11-slim; `make run` needs none.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends docker.io \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV DJANGO_SETTINGS_MODULE=console.settings PYTHONUNBUFFERED=1
