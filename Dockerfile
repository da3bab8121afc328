# The Airflow image for docker-compose.yaml: the official Airflow 3.3.2 image (Python 3.11)
# plus the pinned Echo stack. For the GPU worker, build with
#   --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
FROM apache/airflow:3.3.2-python3.11
ARG TORCH_INDEX=""
USER root
# Echo's code and data live under /opt/echo; the data volume is initialised from this
# directory, so the airflow user (AIRFLOW_UID, group 0) can write it.
RUN mkdir -p /opt/echo/data && chown -R airflow:0 /opt/echo && chmod -R g+rwX /opt/echo
USER airflow
WORKDIR /opt/echo
COPY --chown=airflow:0 requirements.txt requirements-deploy.txt pyproject.toml ./
COPY --chown=airflow:0 plugins ./plugins
# The fine-tune pod (schedule.fine_tune_runner=kubernetes) gets no bind mounts: bake the
# SQL and the DAGs in (compose mounts the checkout's copies over them).
COPY --chown=airflow:0 include ./include
COPY --chown=airflow:0 dags ./dags
COPY --chown=airflow:0 scripts ./scripts
# apache-airflow==3.3.2 is pinned in requirements.txt too: the image's Airflow stays as is.
RUN pip install --no-cache-dir -r requirements-deploy.txt \
    && if [ -n "$TORCH_INDEX" ]; then pip install --no-cache-dir --force-reinstall --no-deps --index-url "$TORCH_INDEX" torch==2.13.0; fi \
    && pip install --no-cache-dir --no-deps -e .
