# The Airflow image for docker-compose.yaml: the pinned Echo stack on Python 3.11.
# For the GPU worker, build with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
FROM python:3.11-slim
ARG TORCH_INDEX=""
WORKDIR /opt/echo
COPY requirements-deploy.txt pyproject.toml ./
COPY plugins ./plugins
# The fine-tune pod (schedule.fine_tune_runner=kubernetes) gets no bind mounts: bake the SQL in.
COPY include ./include
RUN pip install --no-cache-dir -r requirements-deploy.txt \
    && if [ -n "$TORCH_INDEX" ]; then pip install --no-cache-dir --force-reinstall --index-url "$TORCH_INDEX" torch==2.13.0; fi \
    && pip install --no-cache-dir --no-deps -e .
ENV AIRFLOW_HOME=/opt/airflow
