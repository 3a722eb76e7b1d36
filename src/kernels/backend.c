/* Which backend owns which device: one table per cg_device.  A build with a
 * second backend adds its table here (under its build option). */
#include "kernels/backend.h"

static const cg_backend *const backends[CG_DEVICE_COUNT] = {
    [CG_CPU] = &cg_cpu_backend,
};

const cg_backend *cg_backend_for(cg_device device) {
    return device >= 0 && device < CG_DEVICE_COUNT ? backends[device] : NULL;
}
