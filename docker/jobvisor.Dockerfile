# The jobvisor server/supervisor image: Node (with its shared libraries), jobvisor's built code
# and production packages, and the example templates. Built FROM scratch from a root file
# system that docker/build-jobvisor-image.sh assembles, so no image registry is needed.
# One image, two processes: the command is `server` or `supervisor` (see docker/compose.yaml).
FROM scratch
COPY rootfs/ /
LABEL org.jobvisor.image="jobvisor"
ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp NODE_ENV=production
WORKDIR /opt/jobvisor
ENTRYPOINT ["/usr/local/bin/node", "/opt/jobvisor/dist/src/cli.js"]
CMD ["start"]
