// NiceGUI's upload (Quasar's QUploader) with a header of our own: the title says what to drop, and the file
// chooser is one labelled control (Quasar's default "+" button holds the file input inside a button, which screen
// readers and axe report as a nameless control nested in another).
export default {
  template: `
    <q-uploader ref="qRef" :url="computed_url">
      <template v-slot:header="scope">
        <div class="row no-wrap items-center q-pa-sm q-gutter-sm">
          <q-spinner v-if="scope.isUploading" size="sm" />
          <div class="col q-uploader__title">{{ label }}</div>
          <div v-if="scope.canAddFiles" class="relative-position csv-upload-choose">
            <q-icon name="add" aria-hidden="true" /><span aria-hidden="true">{{ addLabel }}</span>
            <q-uploader-add-trigger />
          </div>
        </div>
      </template>
      <template v-for="(_, slot) in $slots" v-slot:[slot]="slotProps">
        <slot :name="slot" v-bind="slotProps || {}" />
      </template>
    </q-uploader>
  `,
  props: { url: String, label: String, addLabel: String },
  data() {
    return { computed_url: this.url };
  },
  mounted() {
    setTimeout(() => this.compute_url(), 0); // wait for window.path_prefix to be set in app.mounted()
    this.name();
  },
  updated() {
    this.compute_url();
    this.name();
  },
  methods: {
    compute_url() {
      this.computed_url = (this.url.startsWith("/") ? window.path_prefix : "") + this.url;
    },
    name() {
      for (const input of this.$el.querySelectorAll("input[type=file]")) input.setAttribute("aria-label", this.addLabel);
    },
  },
};
