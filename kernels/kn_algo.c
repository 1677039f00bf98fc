/* kernels/kn_algo.c - the algorithms we run, found by name or training image.
 *
 * Each algorithm lives in its own room and exports one kn_algo. The table
 * below names them; it must never grow a second list elsewhere.
 *
 * Why not plain weak references for rooms still being written: sf_kernels
 * is a static archive, and a weak undefined symbol never makes the linker
 * pull an archive member in, so a weakly referenced algorithm would be
 * missing from every binary that does not name it elsewhere. Instead a
 * room is linked strongly as soon as its header exists (it declares the
 * symbol); until then the reference is weak, and the table skips it when
 * it resolved to nothing. */
#include "kn_algo.h"

#include <pthread.h>
#include <string.h>

extern const kn_algo kn_algo_linear_learner; /* kernels/linear/ */

#if __has_include("kmeans/kmeans.h")
extern const kn_algo kn_algo_kmeans;
#else
extern const kn_algo kn_algo_kmeans __attribute__((weak));
#endif
#if __has_include("pca/pca.h")
extern const kn_algo kn_algo_pca;
#else
extern const kn_algo kn_algo_pca __attribute__((weak));
#endif
#if __has_include("mlp/mlp.h")
extern const kn_algo kn_algo_image_classifier;
#else
extern const kn_algo kn_algo_image_classifier __attribute__((weak));
#endif

static const kn_algo *list[8];
static pthread_once_t list_once = PTHREAD_ONCE_INIT;

static void build_list(void)
{
    const kn_algo *all[] = {&kn_algo_linear_learner, &kn_algo_kmeans, &kn_algo_pca,
                            &kn_algo_image_classifier};
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]) /* a weak reference left unresolved is NULL */
            list[n++] = all[i];
    list[n] = NULL;
}

/* The algorithms that are linked in, in a fixed order. */
static const kn_algo *const *table(void)
{
    pthread_once(&list_once, build_list);
    return list;
}

const kn_algo *const *kn_algos(void)
{
    return table();
}

/* The repository of a training image: "acct.dkr.ecr.region.amazonaws.com/
 * linear-learner:1" → "linear-learner". The account, region and tag (or
 * digest) differ between regions and versions; the repository does not. */
static void repository(const char *image, char *out, size_t cap)
{
    const char *slash = strrchr(image, '/');
    const char *start = slash ? slash + 1 : image;
    size_t len = strcspn(start, ":@");
    if (len >= cap)
        len = cap - 1;
    memcpy(out, start, len);
    out[len] = '\0';
}

const kn_algo *kn_algo_find(const char *name_or_image)
{
    if (!name_or_image)
        return NULL;
    char repo[128];
    repository(name_or_image, repo, sizeof repo);
    for (const kn_algo *const *a = table(); *a; a++)
        if (strcmp((*a)->name, name_or_image) == 0 || strcmp((*a)->name, repo) == 0)
            return *a;
    return NULL;
}
