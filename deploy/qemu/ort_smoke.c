/* ONNX Runtime's C API alone, no .NET: load a model, run it N times, print the first outputs.
 * Built for arm64 and run under qemu-aarch64 by investigate.sh, to tell ORT's own behaviour under
 * qemu-user apart from the .NET runtime's.  Usage: ort_smoke MODEL.onnx [runs] [threads] */
#include <stdio.h>
#include <stdlib.h>
#include "onnxruntime_c_api.h"

static const OrtApi *ort;

static void check(OrtStatus *status, const char *what) {
  if (status != NULL) {
    fprintf(stderr, "%s: %s\n", what, ort->GetErrorMessage(status));
    ort->ReleaseStatus(status);
    exit(2);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s MODEL.onnx [runs] [threads]\n", argv[0]); return 2; }
  int runs = argc > 2 ? atoi(argv[2]) : 3, threads = argc > 3 ? atoi(argv[3]) : 1;
  ort = OrtGetApiBase()->GetApi(ORT_API_VERSION);
  if (ort == NULL) { fprintf(stderr, "this libonnxruntime does not serve C API %d\n", ORT_API_VERSION); return 2; }
  printf("ONNX Runtime %s\n", OrtGetApiBase()->GetVersionString());
  OrtEnv *env; OrtSessionOptions *options; OrtSession *session; OrtAllocator *allocator;
  check(ort->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "smoke", &env), "CreateEnv");
  check(ort->CreateSessionOptions(&options), "CreateSessionOptions");
  check(ort->SetIntraOpNumThreads(options, threads), "SetIntraOpNumThreads");
  check(ort->AddSessionConfigEntry(options, "session.intra_op.allow_spinning", "0"), "spinning");
  check(ort->CreateSession(env, argv[1], options, &session), "CreateSession");
  check(ort->GetAllocatorWithDefaultOptions(&allocator), "allocator");
  char *input, *output;
  check(ort->SessionGetInputName(session, 0, allocator, &input), "input name");
  check(ort->SessionGetOutputName(session, 0, allocator, &output), "output name");
  int64_t shape[4] = {1, 3, 224, 224};
  size_t count = 3 * 224 * 224;
  float *data = malloc(count * sizeof(float));
  for (size_t i = 0; i < count; i++) data[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  OrtMemoryInfo *memory;
  check(ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory), "memory info");
  OrtValue *tensor = NULL;
  check(ort->CreateTensorWithDataAsOrtValue(memory, data, count * sizeof(float), shape, 4, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &tensor), "tensor");
  for (int r = 0; r < runs; r++) {
    OrtValue *result = NULL;
    const char *inputs[] = {input}, *outputs[] = {output};
    check(ort->Run(session, NULL, inputs, (const OrtValue *const *)&tensor, 1, outputs, 1, &result), "Run");
    float *out;
    check(ort->GetTensorMutableData(result, (void **)&out), "output data");
    printf("run %d: %s[0..2] = %.6f %.6f %.6f\n", r, output, out[0], out[1], out[2]);
    ort->ReleaseValue(result);
  }
  ort->ReleaseValue(tensor);
  ort->ReleaseMemoryInfo(memory);
  ort->ReleaseSession(session);
  ort->ReleaseSessionOptions(options);
  ort->ReleaseEnv(env);
  free(data);
  return 0;
}
