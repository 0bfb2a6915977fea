# syntax=docker/dockerfile:1
# Build the manager and the CLI as static binaries, then ship them on a
# distroless nonroot base.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
COPY webhook/ webhook/
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w -X github.com/gatehouse-dev/gatehouse/internal/version.Version=${VERSION}" \
      -o /out/manager ./cmd/manager && \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w -X github.com/gatehouse-dev/gatehouse/internal/version.Version=${VERSION}" \
      -o /out/gatehouse ./cmd/gatehouse

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /out/manager /manager
COPY --from=builder /out/gatehouse /gatehouse
USER 65532:65532
ENTRYPOINT ["/manager"]
