import { initials, userHue } from "../format";

export function Avatar({ name, size = 32 }: { name: string; size?: number }) {
  const hue = userHue(name);
  return (
    <span
      className="avatar"
      aria-hidden="true"
      style={{ width: size, height: size, fontSize: size * 0.4, ["--hue" as string]: String(hue) }}
    >
      {initials(name)}
    </span>
  );
}
