/*
 * A deliberately naive, non-streaming reference of the redactor's masking
 * semantics, for the property tests: every occurrence of every compiled
 * pattern found by brute force, wrapped or not, and their union.
 */
#ifndef REDACT_REF_H
#define REDACT_REF_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/redact.h"

struct ref_pat {
	unsigned char	*p;
	size_t		 n;
	uint32_t	 value;
	uint8_t		 lead_mask, lead_val;
};

struct ref {
	const struct redact	*r;
	struct ref_pat		*pat;
	size_t			 npat;
	struct ref_pat		*wpat;		/* hex and base64 */
	size_t			 nwpat;
};

/* Load the compiled patterns of r (which must outlive ref). */
int	ref_load(struct ref *ref, const struct redact *r);
void	ref_release(struct ref *ref);
/* Whether r's automaton skips with its filter (see src/redact/scan.c). */
int	ref_skips(const struct redact *r);
/* Mask in[0..n) into out (initialised by the caller). */
int	ref_mask(const struct ref *ref, const unsigned char *in, size_t n,
	    struct al_buf *out);

#endif
