/*
 * nosym.c - a shared object named like a backend plugin that lacks the
 * entry symbol; the loader must refuse it with a clear error.
 */
__attribute__((visibility("default"))) int not_the_entry(void);
int not_the_entry(void)
{
	return 42;
}
