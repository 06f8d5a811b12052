/* The opening checks shared by fi_mean_deserialize and fi_threshold_deserialize: one place
 * for the NULLs, the truncated header, the magic and the format version, with the messages
 * each object has always given. (fi_accumulator_deserialize reads two formats and keeps its
 * own.) */
#include "core/image.h"

#include "core/core.h"

int fi__image_open(fi_context *ctx, const fi__image_kind *kind, const void *buf, size_t size,
                   const void *out)
{
    if (!ctx) return FI_ERR_NULL;
    if (!buf) return fi__fail(ctx, FI_ERR_NULL, "buf is NULL");
    if (!out) return fi__fail(ctx, FI_ERR_NULL, "%s (output pointer) is NULL", kind->out);
    const unsigned char *p = buf;
    if (size < kind->head)
        return fi__fail(ctx, FI_ERR_FORMAT, "buffer of %zu bytes is shorter than a %s image "
                        "header (%u bytes): truncated", size, kind->noun, kind->head);
    if (memcmp(p, kind->magic, 8) != 0)
        return fi__fail(ctx, FI_ERR_FORMAT, "not a %s image (bad magic, expected \"%.8s\")",
                        kind->title, kind->magic);
    const uint64_t format = fi__image_get_u64(p + 8);
    if (format != kind->format)
        return fi__fail(ctx, FI_ERR_FORMAT, "%s image format version %llu, this library reads "
                        "version %u", kind->noun, (unsigned long long)format, kind->format);
    return FI_OK;
}
