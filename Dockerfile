FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY domain domain
COPY events events
RUN pip install --no-cache-dir .
ENV MAILREG_HOST=0.0.0.0 MAILREG_PORT=8000 MAILREG_DATA_DIR=/data
EXPOSE 8000
CMD ["sh", "-c", "mailreg migrate && exec mailreg serve"]
