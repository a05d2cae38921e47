# One image for every eduhook process; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY eduhook ./eduhook
COPY receiver ./receiver
COPY workers ./workers
COPY handlers ./handlers
COPY sandbox ./sandbox
COPY console ./console
RUN pip install --no-cache-dir . && useradd --system eduhook
USER eduhook
ENV EDUHOOK_DATA_DIR=/tmp/eduhook EDUHOOK_HOST=0.0.0.0
EXPOSE 8000
CMD ["eduhook", "serve"]
