/* Events and the callback struct: one function pointer per event, found by a
 * table so that the loop can say run_event(CG_EV_AFTER_BATCH). */
#include <stddef.h>

#include "cgrad/learner.h"

static const struct {
    const char *name;
    size_t offset; /* of the event's function pointer in cg_callback */
} events[] = {
#define EV(id, field) [id] = {#field, offsetof(cg_callback, field)}
    EV(CG_EV_BEFORE_FIT, before_fit),
    EV(CG_EV_BEFORE_EPOCH, before_epoch),
    EV(CG_EV_BEFORE_TRAIN, before_train),
    EV(CG_EV_BEFORE_BATCH, before_batch),
    EV(CG_EV_AFTER_PRED, after_pred),
    EV(CG_EV_AFTER_LOSS, after_loss),
    EV(CG_EV_BEFORE_BACKWARD, before_backward),
    EV(CG_EV_AFTER_BACKWARD, after_backward),
    EV(CG_EV_BEFORE_STEP, before_step),
    EV(CG_EV_AFTER_STEP, after_step),
    EV(CG_EV_AFTER_CANCEL_BACKWARD, after_cancel_backward),
    EV(CG_EV_AFTER_CANCEL_STEP, after_cancel_step),
    EV(CG_EV_AFTER_CANCEL_BATCH, after_cancel_batch),
    EV(CG_EV_AFTER_BATCH, after_batch),
    EV(CG_EV_AFTER_CANCEL_TRAIN, after_cancel_train),
    EV(CG_EV_AFTER_TRAIN, after_train),
    EV(CG_EV_BEFORE_VALIDATE, before_validate),
    EV(CG_EV_AFTER_CANCEL_VALIDATE, after_cancel_validate),
    EV(CG_EV_AFTER_VALIDATE, after_validate),
    EV(CG_EV_AFTER_CANCEL_EPOCH, after_cancel_epoch),
    EV(CG_EV_AFTER_EPOCH, after_epoch),
    EV(CG_EV_AFTER_CANCEL_FIT, after_cancel_fit),
    EV(CG_EV_AFTER_FIT, after_fit),
#undef EV
};
/* Adding an event without its table entry fails to compile. */
_Static_assert(sizeof events / sizeof events[0] == CG_EV_COUNT, "one table entry per event");

const char *cg_event_name(cg_event ev) {
    return (unsigned)ev < CG_EV_COUNT ? events[ev].name : "unknown_event";
}

cg_cb_fn cg_callback_fn(const cg_callback *cb, cg_event ev) {
    if ((unsigned)ev >= CG_EV_COUNT) return NULL;
    return *(const cg_cb_fn *)((const char *)cb + events[ev].offset);
}
