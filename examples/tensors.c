/* The chapter's "NumPy Arrays and PyTorch Tensors" and broadcasting cells in C.
 *
 *   data = [[1,2,3],[4,5,6]]; tns = tensor(data)
 *   tns[1]; tns[:,1]; tns[1,1:3]; tns+1; tns.type(); tns*1.5
 *   tensor([1,2,3]) + tensor(1)
 */
#include <cgrad.h>

#define SHOW(label, expr)                          \
    do {                                           \
        printf(">>> %s\n", label);                 \
        cg_tensor *v_ = (expr);                    \
        if (!v_ || cg_print(v_) != CG_OK) goto fail; \
    } while (0)

int main(void) {
    cg_scope_begin(); /* everything below dies at cg_scope_end() */
    int64_t data[] = {1, 2, 3, 4, 5, 6};
    cg_tensor *tns = cg_from_data(CG_INT64, CG_SHAPE(2, 3), data);

    SHOW("tns", tns);
    SHOW("tns[1]", cg_select(tns, 0, 1));
    SHOW("tns[:,1]", cg_select(tns, 1, 1));
    SHOW("tns[1,1:3]", cg_slice(cg_select(tns, 0, 1), 0, 1, 3, 1));
    SHOW("tns+1", cg_add_s(tns, 1));
    printf(">>> tns.type()\n'%s'\n", cg_type_name(tns));
    SHOW("tns*1.5", cg_mul_s(tns, 1.5));

    /* Broadcasting: a 0-d tensor stretches over a vector, a [28,28] image over a stack. */
    SHOW("tensor([1,2,3]) + tensor(1)",
         cg_add(cg_from_data(CG_INT64, CG_SHAPE(3), (int64_t[]){1, 2, 3}), cg_scalar_of(CG_INT64, 1)));
    cg_tensor *stack = cg_ones(CG_FLOAT32, CG_SHAPE(1010, 28, 28));
    cg_tensor *mean3 = cg_full(CG_FLOAT32, CG_SHAPE(28, 28), 0.25);
    char shape[64];
    printf(">>> (valid_3_tens-mean3).shape\ntorch.Size(%s)\n",
           cg_shape_str(cg_sub(stack, mean3), shape, sizeof shape));

    cg_scope_end();
    cg_pool_trim();
    return 0;
fail:
    fprintf(stderr, "tensors: %s\n", cg_last_error());
    cg_scope_end();
    cg_pool_trim();
    return 1;
}
