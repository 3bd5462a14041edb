// The browser's own notifications (Notification API) for finished jobs, once the user allows them here.
const KEY = "job-management-notify";

export default {
  template: `<q-btn v-if="supported" flat round dense color="white" @click="toggle" :aria-label="label" :title="label"
    :icon="enabled ? 'notifications_active' : 'notifications_none'" :aria-pressed="enabled ? 'true' : 'false'" />`,
  data() {
    const supported = "Notification" in window;
    return {
      supported,
      enabled: supported && Notification.permission === "granted" && window.localStorage.getItem(KEY) === "on",
    };
  },
  computed: {
    label() {
      return this.enabled ? "Browser notifications are on (switch off)" : "Notify me in the browser when my jobs finish";
    },
  },
  methods: {
    async toggle() {
      if (this.enabled) {
        this.enabled = false;
        window.localStorage.setItem(KEY, "off");
        return;
      }
      const permission = await Notification.requestPermission();
      this.enabled = permission === "granted";
      window.localStorage.setItem(KEY, this.enabled ? "on" : "off");
    },
    // Called from Python when one of the user's jobs finished; shown only if allowed and switched on.
    show(title, body, url) {
      const allowed = "Notification" in window && Notification.permission === "granted";
      if (!allowed || window.localStorage.getItem(KEY) !== "on") return;
      const notice = new Notification(title, { body, tag: url });
      notice.onclick = () => {
        window.focus();
        window.location.href = url;
      };
    },
  },
};
