FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY domain domain
COPY events events
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin mailreg \
    && mkdir -p /data && chown mailreg:mailreg /data
# Not root: a compromised process cannot change the image or other containers' files.
USER mailreg
ENV MAILREG_HOST=0.0.0.0 MAILREG_PORT=8000 MAILREG_DATA_DIR=/data
EXPOSE 8000
CMD ["sh", "-c", "mailreg migrate && exec mailreg serve"]
