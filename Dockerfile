# syntax=docker/dockerfile:1
# EdgeSplit's one program (agent, coordinator, CLI) for linux/amd64 and linux/arm64:
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/edgesplit:TAG --push .
#
# The SDK stage runs on the build machine's own platform and cross-publishes for the target
# (ReadyToRun included), so an arm64 image builds on an x64 machine without emulation. The final
# stage is runtime-deps (glibc, libstdc++, OpenSSL: what the self-contained app and ONNX Runtime
# need), running as the non-root user it provides. See deploy/README.md.

ARG DOTNET_VERSION=10.0

FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG TARGETARCH
WORKDIR /src
# Restore first, from the project files alone, so that a code change reuses the restored layer.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/EdgeSplit.Graph/EdgeSplit.Graph.csproj src/EdgeSplit.Graph/
COPY src/EdgeSplit.Runtime/EdgeSplit.Runtime.csproj src/EdgeSplit.Runtime/
COPY src/EdgeSplit.Zoo/EdgeSplit.Zoo.csproj src/EdgeSplit.Zoo/
COPY src/EdgeSplit.Planning/EdgeSplit.Planning.csproj src/EdgeSplit.Planning/
COPY src/EdgeSplit.Cluster/EdgeSplit.Cluster.csproj src/EdgeSplit.Cluster/
COPY src/EdgeSplit.Testbed/EdgeSplit.Testbed.csproj src/EdgeSplit.Testbed/
COPY src/EdgeSplit.Reports/EdgeSplit.Reports.csproj src/EdgeSplit.Reports/
COPY src/EdgeSplit.Evaluation/EdgeSplit.Evaluation.csproj src/EdgeSplit.Evaluation/
COPY src/EdgeSplit.Cli/EdgeSplit.Cli.csproj src/EdgeSplit.Cli/
RUN case "$TARGETARCH" in \
      amd64) echo linux-x64 > /rid ;; \
      arm64) echo linux-arm64 > /rid ;; \
      *) echo "unsupported TARGETARCH '$TARGETARCH' (amd64, arm64)" >&2; exit 1 ;; \
    esac \
 && dotnet restore src/EdgeSplit.Cli -r "$(cat /rid)" -p:SelfContained=true
COPY src/ src/
# The same command as deploy/publish.sh; the pretrained ResNet18 stays out (agents never need it).
RUN dotnet publish src/EdgeSplit.Cli -c Release -r "$(cat /rid)" --self-contained --no-restore \
      -p:PublishPretrainedModel=false -o /app

FROM mcr.microsoft.com/dotnet/runtime-deps:${DOTNET_VERSION} AS final
LABEL org.opencontainers.image.title="edgesplit" \
      org.opencontainers.image.description="Runs one DNN across several edge devices: agent, coordinator and CLI"
COPY --from=build /app /opt/edgesplit
# runtime-deps has a non-root user 'app' (UID $APP_UID); agents cache partitions under its home
# (the Kubernetes manifests mount a volume there: --cache /home/app/cache).
ENV PATH="/opt/edgesplit:${PATH}"
USER $APP_UID
WORKDIR /home/app
# 50051: gRPC (agent); 5000: gRPC (coordinator); 9464: Prometheus text at /metrics.
EXPOSE 50051 5000 9464
ENTRYPOINT ["/opt/edgesplit/edgesplit"]
CMD ["--help"]
