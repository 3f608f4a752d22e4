/* Listings of /proc and /proc/<pid>/task with virtual ids (proc_listing.c). */
#ifndef AMBER_PROC_LISTING_H
#define AMBER_PROC_LISTING_H

#include <dirent.h>

int amber_proc_listing_dir(const char *path); /* /proc, or /proc/<pid>/task */
void amber_proc_listing_opened(DIR *dir, const char *path); /* after opendir */
void amber_proc_listing_closed(DIR *dir);                   /* before closedir */
struct dirent64 *amber_proc_listing_entry(DIR *dir, struct dirent64 *e);

#endif
