/* Private to src/data: turning decoded uint8 pixels into dataset items
 * (fastai's IntToFloatTensor: float(x) / 255). */
#ifndef CGRAD_DATA_IMAGE_ITEM_H
#define CGRAD_DATA_IMAGE_ITEM_H

#include <stdint.h>
#include <string.h>

#include "cgrad/dataset.h"

/* Copies n uint8 pixels to dst as uint8, or as float32 x/255 when to_float.
 * The division is done in float32, like torch's x.float() / 255. */
static inline void cg_image_item_store(const uint8_t *src, int64_t n, void *dst, bool to_float) {
    if (!to_float) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    float *f = dst;
    for (int64_t i = 0; i < n; i++) f[i] = (float)src[i] / 255.0f;
}

static inline cg_status cg_image_item_check(const cg_image_item_options *o, const char *who) {
    if (o->channels != 0 && o->channels != 1 && o->channels != 3 && o->channels != 4)
        return cg_fail(CG_ERR_VALUE, "%s: channels must be 0 (as stored), 1, 3 or 4, got %d", who,
                       o->channels);
    return CG_OK;
}

#endif
