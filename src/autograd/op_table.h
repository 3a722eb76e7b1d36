/* The differentiable ops: one line each, X(ENUM_SUFFIX, "PyTorch grad_fn name").
 *
 * This list drives three tables that must stay complete:
 *   - autograd/tape.c: the grad_fn names (static_assert on the count);
 *   - autograd/backward.c: the derivative rules — a line here without a
 *     `backward_<NAME>` function there fails to compile;
 *   - tests/test_gradcheck.c: one finite-difference check per op — a line
 *     here without a `gradcheck_<NAME>` test there fails to compile.
 * Adding an op = its forward in src/ops/, one line here, its backward, its test. */
#ifndef CGRAD_OP_TABLE_H
#define CGRAD_OP_TABLE_H

#define CG_OP_LIST(X)                     \
    X(ADD, "AddBackward0")                \
    X(SUB, "SubBackward0")                \
    X(MUL, "MulBackward0")                \
    X(DIV, "DivBackward0")                \
    X(MAXIMUM, "MaximumBackward0")        \
    X(MINIMUM, "MinimumBackward0")        \
    X(WHERE, "WhereBackward0")            \
    X(NEG, "NegBackward0")                \
    X(ABS, "AbsBackward0")                \
    X(SQRT, "SqrtBackward0")              \
    X(EXP, "ExpBackward0")                \
    X(LOG, "LogBackward0")                \
    X(SIGMOID, "SigmoidBackward0")        \
    X(RELU, "ReluBackward0")              \
    X(TANH, "TanhBackward0")              \
    X(POW, "PowBackward0")                \
    X(CLAMP, "ClampBackward1")            \
    X(SUM, "SumBackward0")                \
    X(MEAN, "MeanBackward0")              \
    X(MAX_DIM, "MaxBackward0")            \
    X(MIN_DIM, "MinBackward0")            \
    X(MATMUL, "MmBackward0")              \
    X(VIEW, "ViewBackward0")              \
    X(PERMUTE, "PermuteBackward0")        \
    X(SLICE, "SliceBackward0")            \
    X(EXPAND, "ExpandBackward0")          \
    X(CAT, "CatBackward0")                \
    X(COPY, "CloneBackward0")             \
    X(LOG_SOFTMAX, "LogSoftmaxBackward0") \
    X(NLL_LOSS, "NllLossBackward0")                   \
    X(CONV2D, "ConvolutionBackward0")                 \
    X(BATCH_NORM, "NativeBatchNormBackward0")         \
    X(MAX_POOL2D, "MaxPool2DWithIndicesBackward0")    \
    X(AVG_POOL2D, "AvgPool2DBackward0")               \
    X(ADAPTIVE_MAX_POOL2D, "AdaptiveMaxPool2DBackward0") \
    X(ADAPTIVE_AVG_POOL2D, "AdaptiveAvgPool2DBackward0") \
    X(DROPOUT, "NativeDropoutBackward0")

typedef enum cg_op {
#define CG_OP_ENUM(name, str) CG_OP_##name,
    CG_OP_LIST(CG_OP_ENUM)
#undef CG_OP_ENUM
    CG_OP_COUNT
} cg_op;

#endif
