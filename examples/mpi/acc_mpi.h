/*
 * Combining libfi accumulators across MPI ranks through their flat serialized images.
 * libfi has no MPI dependency: these two functions are all the glue a user needs, written
 * against the public API only, and meant to be copied.
 */
#ifndef FIMPI_ACC_MPI_H
#define FIMPI_ACC_MPI_H

#include <mpi.h>
#include <stddef.h>

#include "fi.h"

/* Replaces *acc, on every rank of comm, by the merge of all ranks' accumulators, with one
 * MPI_Allreduce of the serialized images under a user-defined MPI_Op that deserializes,
 * merges and re-serializes. Collective; every rank must pass an accumulator of the same
 * block count. Returns 0, or -1 with a message in err (errlen bytes) on every rank. */
int acc_allreduce(fi_context *ctx, fi_accumulator **acc, MPI_Comm comm, char *err,
                  size_t errlen);

/* The same merge (up to the few-ulp merge-order bound of docs/aggregation.md) through
 * MPI_Allgather of the images and a local merge in rank order, identical on every rank:
 * the pattern for engines whose collectives only sum numbers (torch.distributed
 * all_gather). Uses size(comm) times the image size of memory per rank. */
int acc_allgather_merge(fi_context *ctx, fi_accumulator **acc, MPI_Comm comm, char *err,
                        size_t errlen);

#endif
