# The jobvisor agent image with Python: the agent image (docker/agent.Dockerfile) plus this
# machine's Debian python3 with its standard library and the shared libraries its binary and
# its extension modules need. docker/build-agent-python-image.sh assembles rootfs/ from this
# machine, so no image registry is needed.
ARG BASE=jobvisor-agent:latest
FROM ${BASE}
COPY rootfs/ /
LABEL org.jobvisor.image="agent-python"
# Runs are in read-write run directories; the standard library is read-only for the agent's user.
ENV PYTHONDONTWRITEBYTECODE=1
