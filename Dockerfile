# One image for every eduhook process; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY eduhook ./eduhook
COPY receiver ./receiver
COPY workers ./workers
COPY handlers ./handlers
COPY sources ./sources
COPY sandbox ./sandbox
COPY console ./console
# The data dir (and beat's schedule under it, a volume in compose) belongs to the eduhook user;
# a new named volume takes this ownership from the image.
RUN pip install --no-cache-dir . && useradd --system eduhook \
    && mkdir -p /var/lib/eduhook/beat && chown -R eduhook /var/lib/eduhook && chmod 0700 /var/lib/eduhook
USER eduhook
ENV EDUHOOK_DATA_DIR=/var/lib/eduhook EDUHOOK_HOST=0.0.0.0
EXPOSE 8000
CMD ["eduhook", "serve"]
