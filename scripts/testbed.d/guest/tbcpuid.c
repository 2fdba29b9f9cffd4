/*
 * tbcpuid: print the hypervisor CPUID leaves as seen from inside the guest (busybox has no cpuid
 * tool and our guest kernel has no /dev/cpu/N/cpuid). Scans the hypervisor range 0x40000000..
 * 0x4000ff00 in steps of 0x100 like Linux's xen_cpuid_base() and prints one line per base found:
 *   base=0x40000000 sig=XenVMMXenVMM max=0x40000005 [xen=4.17]
 * Built static without libc (gcc -nostdlib): a few kilobytes in the guest initramfs.
 */
typedef unsigned int u32;

static long sys_write(const char *s, long n)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(1L), "D"(1L), "S"(s), "d"(n) : "rcx", "r11", "memory");
	return ret;
}

static void __attribute__((noreturn)) sys_exit(long code)
{
	__asm__ volatile("syscall" : : "a"(60L), "D"(code) : "rcx", "r11", "memory");
	for (;;) {
	}
}

static void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static char buf[256];
static int len;

static void put(const char *s)
{
	while (*s && len < (int)sizeof(buf) - 1)
		buf[len++] = *s++;
}

static void put_hex(u32 v)
{
	static const char digits[] = "0123456789abcdef";
	char t[11];
	int i;
	t[0] = '0';
	t[1] = 'x';
	for (i = 0; i < 8; i++)
		t[2 + i] = digits[(v >> (28 - 4 * i)) & 0xf];
	t[10] = 0;
	put(t);
}

static void put_dec(u32 v)
{
	char t[12];
	int i = 11;
	t[i] = 0;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(t + i);
}

void __attribute__((noreturn)) _start(void)
{
	u32 base, a, b, c, d, sig[3];
	int found = 0;

	for (base = 0x40000000; base < 0x40010000; base += 0x100) {
		cpuid(base, &a, &b, &c, &d);
		if (a < base || a > base + 0xff)
			continue;
		sig[0] = b;
		sig[1] = c;
		sig[2] = d;
		len = 0;
		put("base=");
		put_hex(base);
		put(" sig=");
		for (int i = 0; i < 12; i++) {
			char ch = ((const char *)sig)[i];
			char s[2] = { (ch >= 0x20 && ch < 0x7f) ? ch : '.', 0 };
			put(s);
		}
		put(" max=");
		put_hex(a);
		if (b == 0x566e6558 && c == 0x65584d4d && d == 0x4d4d566e && a >= base + 1) {
			u32 v;
			cpuid(base + 1, &v, &b, &c, &d);
			put(" xen=");
			put_dec(v >> 16);
			put(".");
			put_dec(v & 0xffff);
		}
		put("\n");
		sys_write(buf, len);
		found = 1;
	}
	sys_exit(found ? 0 : 1);
}
