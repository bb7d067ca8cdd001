# The jobvisor agent image. It holds Node (with the shared libraries it needs), the bundled
# agent and the example templates, and nothing else. Built FROM scratch from a root file
# system that docker/build-agent-image.sh assembles from this machine, so no image registry
# is needed.
FROM scratch
COPY rootfs/ /
LABEL org.jobvisor.image="agent"
ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp
USER 1000:1000
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/node", "/opt/jobvisor/jobvisor-agent.mjs"]
