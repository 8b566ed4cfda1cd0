# Parley in a container: one static binary on distroless, running as an
# unprivileged user, its SQLite database on the /data volume.
#
#   docker build -t parley .
#   docker run -d --name parley -p 8080:8080 -v parley-data:/data --stop-timeout 20 parley
#
# docs/operations.md covers TLS, logs and upgrades; docs/deploy.md, several
# nodes on PostgreSQL and Redis (set PARLEY_DB and PARLEY_REDIS).

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# The context includes .git, so that the toolchain stamps the revision that
# `parley version` prints.
COPY . .
# The SQLite driver is pure Go: no cgo, so the binary needs no libc.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=auto -o /out/parley ./cmd/parley
# The volume's mount point, owned by the user that runs parley: a new named
# volume takes its ownership from it, and distroless has no shell to create it.
RUN mkdir -p /out/data

# CA certificates (for PostgreSQL and Redis over TLS), tzdata, /tmp, and the
# user nonroot (65532); no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/parley /usr/local/bin/parley
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV PARLEY_ADDR=:8080 \
    PARLEY_DB=/data/parley.db
VOLUME /data
EXPOSE 8080
# No HEALTHCHECK: the image has no shell or HTTP client to run one. Probe
# GET /healthz (the process is up) and GET /readyz (it can take writes) from
# outside: the orchestrator's HTTP probes, or the load balancer's.
# SIGTERM (the default stop signal) shuts down gracefully within
# -shutdown-timeout (10 s); give `docker stop` longer than that.
ENTRYPOINT ["/usr/local/bin/parley"]
