/*
 * The few file-descriptor system calls abilink's write path needs and Node's fs lacks:
 * a copy between two descriptors done by the kernel (FICLONE, else copy_file_range, else
 * pread/pwrite here), flock, and posix_fallocate. Each throws an Error with Node's
 * `code`/`errno`/`syscall` fields on failure, so src/io treats them as fs errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char *errno_code(int e) {
  switch (e) {
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EXDEV: return "EXDEV";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EFBIG: return "EFBIG";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOSYS: return "ENOSYS";
    case EISDIR: return "EISDIR";
    case EROFS: return "EROFS";
    case ETXTBSY: return "ETXTBSY";
    case ENOMEM: return "ENOMEM";
    default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, int e, const char *syscall) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s, %s", errno_code(e), strerror(e), syscall);
  napi_value message, error, value;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_create_string_utf8(env, errno_code(e), NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "code", value);
  napi_create_int32(env, -e, &value);
  napi_set_named_property(env, error, "errno", value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "syscall", value);
  napi_throw(env, error);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    napi_throw_type_error(env, NULL, "wrong number of arguments");
    return 0;
  }
  return 1;
}

static int64_t get_i64(napi_env env, napi_value v) {
  int64_t out = -1;
  napi_get_value_int64(env, v, &out);
  return out;
}

/* clone(srcFd, dstFd): true when the destination now shares the source's blocks (FICLONE). */
static napi_value clone_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  if (!get_args(env, info, 2, argv)) return NULL;
  int src = (int)get_i64(env, argv[0]);
  int dst = (int)get_i64(env, argv[1]);
  int ok = ioctl(dst, FICLONE, src) == 0;
  napi_get_boolean(env, ok, &result);
  return result;
}

/*
 * copyRange(srcFd, dstFd, srcOffset, dstOffset, length): copies `length` bytes by the
 * kernel (copy_file_range), or, where it cannot (another file system type, an old kernel),
 * through a buffer here. Returns the bytes copied (less than `length` only at the source's end).
 */
static napi_value copy_range(napi_env env, napi_callback_info info) {
  napi_value argv[5], result;
  if (!get_args(env, info, 5, argv)) return NULL;
  int src = (int)get_i64(env, argv[0]);
  int dst = (int)get_i64(env, argv[1]);
  off_t in = (off_t)get_i64(env, argv[2]);
  off_t out = (off_t)get_i64(env, argv[3]);
  int64_t left = get_i64(env, argv[4]);
  int64_t done = 0;
  int kernel = 1;
  char *buf = NULL;
  while (left > 0) {
    ssize_t n;
    if (kernel) {
      size_t chunk = left > (1 << 30) ? (1 << 30) : (size_t)left;
      n = copy_file_range(src, &in, dst, &out, chunk, 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
        kernel = 0;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        free(buf);
        return throw_errno(env, errno, "copy_file_range");
      }
    } else {
      if (!buf) buf = malloc(1 << 20);
      if (!buf) return throw_errno(env, ENOMEM, "malloc");
      size_t chunk = left > (1 << 20) ? (1 << 20) : (size_t)left;
      n = pread(src, buf, chunk, in);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        free(buf);
        return throw_errno(env, errno, "pread");
      }
      for (ssize_t w = 0; w < n;) {
        ssize_t k = pwrite(dst, buf + w, (size_t)(n - w), out + w);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
          int e = errno;
          free(buf);
          return throw_errno(env, e, "pwrite");
        }
        w += k;
      }
      in += n;
      out += n;
    }
    if (n == 0) break;
    done += n;
    left -= n;
  }
  free(buf);
  napi_create_int64(env, done, &result);
  return result;
}

/* flock(fd, exclusive, wait): true when the lock is held; false when not waiting and another holds it. */
static napi_value flock_fd(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  if (!get_args(env, info, 3, argv)) return NULL;
  int fd = (int)get_i64(env, argv[0]);
  bool exclusive = false, wait = false;
  napi_get_value_bool(env, argv[1], &exclusive);
  napi_get_value_bool(env, argv[2], &wait);
  int op = (exclusive ? LOCK_EX : LOCK_UN) | (wait ? 0 : LOCK_NB);
  for (;;) {
    if (flock(fd, op) == 0) break;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      napi_get_boolean(env, false, &result);
      return result;
    }
    return throw_errno(env, errno, "flock");
  }
  napi_get_boolean(env, true, &result);
  return result;
}

/*
 * reserve(fd, offset, length): allocates the blocks (FALLOC_FL_KEEP_SIZE: the file's size and
 * times do not change), so that later writes there cannot run out of space.
 */
static napi_value fallocate_fd(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int fd = (int)get_i64(env, argv[0]);
  int r;
  do r = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)get_i64(env, argv[1]), (off_t)get_i64(env, argv[2]));
  while (r != 0 && errno == EINTR);
  /* File systems without fallocate: nothing reserved, nothing lost. */
  if (r != 0 && errno != EOPNOTSUPP && errno != ENOSYS) return throw_errno(env, errno, "fallocate");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"clone", NULL, clone_fd, NULL, NULL, NULL, napi_default, NULL},
    {"copyRange", NULL, copy_range, NULL, NULL, NULL, napi_default, NULL},
    {"flock", NULL, flock_fd, NULL, NULL, NULL, napi_default, NULL},
    {"fallocate", NULL, fallocate_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
